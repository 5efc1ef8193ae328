//! Connection phase: greeting, optional TLS upgrade, handshake response, and
//! authentication (with plugin switches and caching_sha2's extra round trips).

use mysql_common::constants::{CapabilityFlags, StatusFlags};
use mysql_common::io::ParseBuf;
use mysql_common::packets::HandshakeResponse;
use tokio::net::TcpStream;

use super::auth::{self, Credentials, Plugin};
use super::error::{ProtoError, SqlError};
use super::packet::PacketIo;
use super::resultset::CHARSET_UTF8MB4;
use super::server::Server;
use super::session::Engine;
use super::stream::NetStream;
use super::wire;

/// The largest packet accepted before a client has authenticated.
const HANDSHAKE_MAX_PACKET: usize = 1 << 16;

/// What the server offers; the connection uses what both sides have.
pub fn server_capabilities(tls: bool) -> CapabilityFlags {
    let mut c = CapabilityFlags::CLIENT_LONG_PASSWORD
        | CapabilityFlags::CLIENT_FOUND_ROWS
        | CapabilityFlags::CLIENT_LONG_FLAG
        | CapabilityFlags::CLIENT_CONNECT_WITH_DB
        | CapabilityFlags::CLIENT_NO_SCHEMA
        | CapabilityFlags::CLIENT_LOCAL_FILES
        | CapabilityFlags::CLIENT_IGNORE_SPACE
        | CapabilityFlags::CLIENT_PROTOCOL_41
        | CapabilityFlags::CLIENT_INTERACTIVE
        | CapabilityFlags::CLIENT_IGNORE_SIGPIPE
        | CapabilityFlags::CLIENT_TRANSACTIONS
        | CapabilityFlags::CLIENT_RESERVED
        | CapabilityFlags::CLIENT_SECURE_CONNECTION
        | CapabilityFlags::CLIENT_MULTI_STATEMENTS
        | CapabilityFlags::CLIENT_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PS_MULTI_RESULTS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH
        | CapabilityFlags::CLIENT_CONNECT_ATTRS
        | CapabilityFlags::CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA
        | CapabilityFlags::CLIENT_DEPRECATE_EOF;
    if tls {
        c |= CapabilityFlags::CLIENT_SSL;
    }
    c
}

pub struct Authed {
    pub io: PacketIo<NetStream>,
    pub caps: CapabilityFlags,
    pub user: String,
    pub db: Option<String>,
    pub nonce: [u8; 20],
}

fn greeting(buf: &mut Vec<u8>, version: &str, id: u32, nonce: &[u8; 20], caps: CapabilityFlags) {
    buf.push(10);
    buf.extend_from_slice(version.as_bytes());
    buf.push(0);
    buf.extend_from_slice(&id.to_le_bytes());
    buf.extend_from_slice(&nonce[..8]);
    buf.push(0);
    buf.extend_from_slice(&(caps.bits() as u16).to_le_bytes());
    buf.push(CHARSET_UTF8MB4 as u8);
    buf.extend_from_slice(&StatusFlags::SERVER_STATUS_AUTOCOMMIT.bits().to_le_bytes());
    buf.extend_from_slice(&((caps.bits() >> 16) as u16).to_le_bytes());
    buf.push(21);
    buf.extend_from_slice(&[0; 10]);
    buf.extend_from_slice(&nonce[8..]);
    buf.push(0);
    // Every client speaks mysql_native_password; accounts on caching_sha2
    // are switched to it.
    buf.extend_from_slice(auth::NATIVE.as_bytes());
    buf.push(0);
}

/// Sends `e` and ends the connection.
pub async fn refuse<S>(io: &mut PacketIo<S>, e: SqlError) -> ProtoError
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    io.write_with(|b| wire::err(b, &e));
    let _ = io.flush().await;
    ProtoError::Refused(e)
}

pub async fn accept<E: Engine>(
    server: &Server<E>,
    tcp: TcpStream,
    id: u32,
    host: &str,
) -> Result<Authed, ProtoError> {
    let config = &server.config;
    let offered = server_capabilities(config.tls.is_some());
    let nonce = auth::nonce();
    let mut io = PacketIo::new(NetStream::Tcp(tcp), HANDSHAKE_MAX_PACKET);
    io.write_with(|b| greeting(b, &config.version, id, &nonce, offered));
    io.flush().await?;

    let mut packet = io.read_packet().await?;
    if packet.len() < 4 {
        return Err(refuse(&mut io, SqlError::bad_handshake()).await);
    }
    let client_caps = CapabilityFlags::from_bits_truncate(u32::from_le_bytes([
        packet[0], packet[1], packet[2], packet[3],
    ]));
    // An SSLRequest is the first 32 bytes of a handshake response, alone.
    if packet.len() == 32 && client_caps.contains(CapabilityFlags::CLIENT_SSL) {
        let Some(tls) = config.tls.clone() else {
            return Err(refuse(
                &mut io,
                SqlError::new(1043, "08S01", "TLS is not configured on this server"),
            )
            .await);
        };
        let (stream, early) = io.into_parts();
        let NetStream::Tcp(tcp) = stream else {
            return Err(ProtoError::Malformed("TLS requested twice".into()));
        };
        let tls_stream = tokio_rustls::TlsAcceptor::from(tls)
            .accept(super::stream::Prefixed::new(early, tcp))
            .await
            .map_err(|e| ProtoError::Tls(e.to_string()))?;
        let mut upgraded =
            PacketIo::new(NetStream::Tls(Box::new(tls_stream)), HANDSHAKE_MAX_PACKET);
        // The sequence continues across the upgrade: greeting 0, SSLRequest 1, response 2.
        packet = upgraded.read_packet_with_seq(2).await?;
        io = upgraded;
    } else if config.require_tls {
        return Err(refuse(&mut io, SqlError::insecure_transport()).await);
    }

    let caps = offered & client_caps;
    if !caps.contains(CapabilityFlags::CLIENT_PROTOCOL_41) {
        return Err(refuse(
            &mut io,
            SqlError::new(
                1251,
                "08004",
                "Client does not support the 4.1 protocol; upgrade MySQL client",
            ),
        )
        .await);
    }
    let response: HandshakeResponse<'_> = match ParseBuf(&packet).parse(()) {
        Ok(r) => r,
        Err(_) => return Err(refuse(&mut io, SqlError::bad_handshake()).await),
    };
    let user = String::from_utf8_lossy(response.user()).into_owned();
    let db = response
        .db_name()
        .filter(|d| !d.is_empty())
        .map(|d| String::from_utf8_lossy(d).into_owned());
    let client_plugin = response
        .auth_plugin()
        .map(|p| String::from_utf8_lossy(p.as_bytes()).into_owned())
        .unwrap_or_else(|| auth::NATIVE.to_string());
    let data = response.scramble_buf().to_vec();
    io.set_max_in(config.max_allowed_packet.max(1024));

    let Some(creds) = server.engine.account(&user, host) else {
        return Err(refuse(
            &mut io,
            SqlError::access_denied(&user, host, !data.is_empty()),
        )
        .await);
    };
    authenticate(
        server,
        &mut io,
        &creds,
        &user,
        host,
        &client_plugin,
        data,
        &nonce,
    )
    .await?;
    Ok(Authed {
        io,
        caps,
        user,
        db,
        nonce,
    })
}

/// Checks the client's proof for `creds`, switching plugins or asking for
/// more as needed. On failure the client has been sent ERR 1045.
#[allow(clippy::too_many_arguments)]
pub async fn authenticate<E: Engine>(
    server: &Server<E>,
    io: &mut PacketIo<NetStream>,
    creds: &Credentials,
    user: &str,
    host: &str,
    client_plugin: &str,
    mut data: Vec<u8>,
    nonce: &[u8; 20],
) -> Result<(), ProtoError> {
    let wanted = creds.plugin.name();
    if client_plugin != wanted {
        io.write_with(|b| {
            b.push(0xFE);
            b.extend_from_slice(wanted.as_bytes());
            b.push(0);
            b.extend_from_slice(nonce);
            b.push(0);
        });
        io.flush().await?;
        data = io.read_packet().await?;
    }
    let denied = |data: &[u8]| SqlError::access_denied(user, host, !data.is_empty());
    let ok = match creds.plugin {
        Plugin::Native => auth::verify_native(nonce, &data, &creds.native),
        Plugin::CachingSha2 if data.is_empty() || data == [0] => creds.empty_password(),
        Plugin::CachingSha2 if creds.empty_password() => false,
        Plugin::CachingSha2 => match server.registry.sha2_cache.get(user) {
            Some(stage2) => {
                let ok = auth::verify_sha2_fast(nonce, &data, &stage2);
                if ok {
                    io.write_packet(&[0x01, auth::SHA2_FAST_AUTH_OK]);
                    server
                        .registry
                        .sha2_fast_auths
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                }
                ok
            }
            None => {
                io.write_packet(&[0x01, auth::SHA2_PERFORM_FULL_AUTH]);
                io.flush().await?;
                let mut reply = io.read_packet().await?;
                tracing::debug!(
                    user,
                    reply_len = reply.len(),
                    first = reply.first().copied(),
                    "caching_sha2 full authentication reply"
                );
                // Loopback is as private as a Unix socket, which MySQL treats as
                // secure; libmariadb sends the cleartext password there.
                let loopback = host
                    .parse::<std::net::IpAddr>()
                    .is_ok_and(|ip| ip.is_loopback());
                let rsa_sized = reply.len() >= 128 && reply.last() != Some(&0);
                let password = if io.stream().is_tls()
                    || (loopback && !rsa_sized && reply != [auth::SHA2_REQUEST_PUBLIC_KEY])
                {
                    // Over TLS the client sends the password itself, NUL-terminated.
                    if reply.last() == Some(&0) {
                        reply.pop();
                    }
                    Some(reply)
                } else {
                    let keys = server.config.rsa.get().map_err(ProtoError::Tls)?;
                    if reply == [auth::SHA2_REQUEST_PUBLIC_KEY] {
                        io.write_with(|b| {
                            b.push(0x01);
                            b.extend_from_slice(keys.public_pem.as_bytes());
                        });
                        io.flush().await?;
                        reply = io.read_packet().await?;
                    }
                    keys.decrypt_password(nonce, &reply)
                };
                tracing::debug!(
                    user,
                    decrypted = password.is_some(),
                    "caching_sha2 full authentication"
                );
                match password {
                    Some(pw) if creds.check_password(&pw) => {
                        server.registry.sha2_cache.put(user, auth::sha2_stage2(&pw));
                        server
                            .registry
                            .sha2_full_auths
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        true
                    }
                    _ => false,
                }
            }
        },
    };
    if !ok {
        return Err(refuse(io, denied(&data)).await);
    }
    Ok(())
}
