//! What can go wrong with a plugin. The SQL layer maps each kind to a MySQL
//! error once, where statements fail.

#[derive(Debug, thiserror::Error)]
pub enum PluginError {
    /// The file is missing, unreadable, or not a floe plugin component.
    #[error("Can't open shared library '{file}' ({reason})")]
    Open { file: String, reason: String },
    /// SONAME named a path rather than a file of the plugin directory.
    #[error("No paths allowed for shared library")]
    Path,
    /// The plugin does not export a function of that name and kind.
    #[error("Can't find symbol '{name}' in library '{file}'")]
    NoSuchFunction { name: String, file: String },
    /// `RETURNS` disagrees with what the plugin describes.
    #[error("Function '{name}' in '{file}' returns {described}, not {declared}")]
    Returns {
        name: String,
        file: String,
        described: String,
        declared: String,
    },
    #[error("Function '{0}' already exists")]
    Exists(String),
    #[error("FUNCTION {0} does not exist")]
    NotFound(String),
    /// Arguments that cannot become the types the function declares.
    #[error("Can't initialize function '{name}'; {reason}")]
    Arguments { name: String, reason: String },
    /// The call ran past the statement's time limit.
    #[error("function '{name}' ran past its time limit of {millis} ms")]
    Timeout { name: String, millis: u64 },
    /// The statement was cancelled (`KILL QUERY`) during the call.
    #[error("function '{name}' was interrupted")]
    Interrupted { name: String },
    #[error("function '{name}' needed more than its memory limit of {limit_mib} MiB")]
    Memory { name: String, limit_mib: usize },
    #[error("function '{name}' panicked: {message}")]
    Panic { name: String, message: String },
    #[error("function '{name}' trapped: {message}")]
    Trap { name: String, message: String },
    /// The plugin returned an error of its own.
    #[error("function '{name}' failed: {message}")]
    Failed { name: String, message: String },
    /// The plugin broke the contract (wrong type or number of rows).
    #[error("function '{name}' broke the plugin contract: {message}")]
    Contract { name: String, message: String },
    #[error("plugin cache: {0}")]
    Cache(String),
}
