//! The MySQL endpoint with real clients: the mariadb CLI (batch and
//! interactive), PyMySQL, mysql_async, sysbench, and raw sockets for
//! pipelining and hostile input.

mod cli;
mod clients;
mod primary;
pub(crate) mod server;
mod sql;
mod wire;
