//! Feeds arbitrary client bytes through the packet decoder and every parser
//! that sees client input before or after authentication. Run by hand:
//! `cd node/mysql/fuzz && cargo fuzz run packet_decoder -- -max_total_time=600`.
#![no_main]

// floe's SQL lexer (multi-statement splitting, tokens) reads the same client
// bytes; it depends on nothing, so it is compiled in here rather than building
// all of floe (DataFusion, wasmtime) with fuzzing instrumentation.
#[path = "../../../src/sql/text.rs"]
#[allow(dead_code)] // the token cursor floe builds on these is not fuzzed here
mod text;

use floe_mysql::packet::PacketIo;
use floe_mysql::resultset::ColumnMeta;
use floe_mysql::stmt::Statement;
use floe_mysql::wire;
use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use mysql_common::constants::ColumnType;
use mysql_common::io::ParseBuf;
use mysql_common::packets::HandshakeResponse;

static RT: LazyLock<tokio::runtime::Runtime> =
    LazyLock::new(|| tokio::runtime::Builder::new_current_thread().build().expect("runtime"));

fuzz_target!(|data: &[u8]| {
    RT.block_on(async {
        let stream = tokio::io::join(data, tokio::io::sink());
        let mut io = PacketIo::new(stream, 1 << 20);
        for _ in 0..64 {
            let Ok(packet) = io.read_packet().await else { break };
            io.reset_seq();
            let _: std::io::Result<HandshakeResponse<'_>> = ParseBuf(&packet).parse(());
            let text = wire::sql_text(&packet);
            let params = (packet.first().copied().unwrap_or(0) % 5) as usize;
            let mut stmt = Statement::new(
                (),
                (0..params)
                    .map(|i| ColumnMeta::new(format!("?{i}"), ColumnType::MYSQL_TYPE_VAR_STRING))
                    .collect(),
            );
            let _ = stmt.bind(&packet);
            let _ = text::split_statements(&text);
            let _ = text::tokenize(&text);
        }
    });
});
