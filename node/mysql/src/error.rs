//! Errors as MySQL clients see them (code, SQLSTATE, message), and the
//! protocol's own failures, which end a connection.

use std::fmt;

/// An error sent to the client in an ERR packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlError {
    pub code: u16,
    pub state: [u8; 5],
    pub message: String,
}

impl SqlError {
    pub fn new(code: u16, state: &str, message: impl Into<String>) -> SqlError {
        let mut s = [b'H', b'Y', b'0', b'0', b'0'];
        if state.len() == 5 {
            s.copy_from_slice(state.as_bytes());
        }
        SqlError {
            code,
            state: s,
            message: message.into(),
        }
    }

    pub fn syntax(message: impl Into<String>) -> SqlError {
        SqlError::new(1064, "42000", message)
    }

    pub fn access_denied(user: &str, host: &str, using_password: bool) -> SqlError {
        SqlError::new(
            1045,
            "28000",
            format!(
                "Access denied for user '{user}'@'{host}' (using password: {})",
                if using_password { "YES" } else { "NO" }
            ),
        )
    }

    pub fn unknown_command(cmd: u8) -> SqlError {
        SqlError::new(1047, "08S01", format!("Unknown command {cmd:#04x}"))
    }

    pub fn bad_handshake() -> SqlError {
        SqlError::new(1043, "08S01", "Bad handshake")
    }

    pub fn interrupted() -> SqlError {
        SqlError::new(1317, "70100", "Query execution was interrupted")
    }

    pub fn unknown_statement(id: u32, during: &str) -> SqlError {
        SqlError::new(
            1243,
            "HY000",
            format!("Unknown prepared statement handler ({id}) given to {during}"),
        )
    }

    pub fn wrong_arguments(during: &str) -> SqlError {
        SqlError::new(1210, "HY000", format!("Incorrect arguments to {during}"))
    }

    pub fn packet_too_large() -> SqlError {
        SqlError::new(
            1153,
            "08S01",
            "Got a packet bigger than 'max_allowed_packet' bytes",
        )
    }

    pub fn insecure_transport() -> SqlError {
        SqlError::new(
            3159,
            "HY000",
            "Connections using insecure transport are prohibited while --require_secure_transport=ON.",
        )
    }

    pub fn internal(message: impl Into<String>) -> SqlError {
        SqlError::new(1105, "HY000", message)
    }
}

impl fmt::Display for SqlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ERROR {} ({}): {}",
            self.code,
            String::from_utf8_lossy(&self.state),
            self.message
        )
    }
}

impl std::error::Error for SqlError {}

/// What ends a connection: the peer's fault, the network's, or a kill.
#[derive(Debug, thiserror::Error)]
pub enum ProtoError {
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
    #[error("connection closed by peer")]
    Closed,
    #[error("packet out of order (expected sequence {expected}, got {got})")]
    OutOfOrder { expected: u8, got: u8 },
    #[error("packet of {0} bytes exceeds max_allowed_packet")]
    TooLarge(usize),
    #[error("malformed packet: {0}")]
    Malformed(String),
    #[error("tls: {0}")]
    Tls(String),
    #[error("idle longer than wait_timeout")]
    Timeout,
    #[error("connection killed")]
    Killed,
    /// The client was told why (an ERR packet went out) and is disconnected.
    #[error("{0}")]
    Refused(SqlError),
}
