//! Connections that a handler can cut without sending any response.
//!
//! Hyper writes a status line as soon as a handler returns, and a body that errors only cuts a
//! response mid-way. To drop a connection with nothing written, every accepted socket is
//! wrapped in a [`KillableStream`] whose [`KillSwitch`] reaches the handler as connect info:
//! once killed, the stream fails every read and write, so hyper closes it before writing the
//! first byte of the response.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::connect_info::Connected;
use axum::serve::{IncomingStream, Listener};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};

/// Cuts one connection (see [`KillSwitch::kill`]).
#[derive(Debug, Clone, Default)]
pub(crate) struct KillSwitch(Arc<AtomicBool>);

impl KillSwitch {
    /// Makes the connection fail its next read or write: hyper then closes it.
    pub(crate) fn kill(&self) {
        self.0.store(true, Ordering::SeqCst);
    }

    fn killed(&self) -> bool {
        self.0.load(Ordering::SeqCst)
    }
}

impl Connected<IncomingStream<'_, KillableListener>> for KillSwitch {
    fn connect_info(stream: IncomingStream<'_, KillableListener>) -> KillSwitch {
        stream.io().kill.clone()
    }
}

/// A TCP listener whose connections can be killed.
#[derive(Debug)]
pub(crate) struct KillableListener {
    inner: TcpListener,
}

impl KillableListener {
    pub(crate) fn new(inner: TcpListener) -> KillableListener {
        KillableListener { inner }
    }
}

impl Listener for KillableListener {
    type Io = KillableStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (KillableStream, SocketAddr) {
        // TcpListener's own `Listener::accept` retries and logs accept errors.
        let (tcp, addr) = Listener::accept(&mut self.inner).await;
        // Small JSON answers: no Nagle delay against the client's delayed ACKs.
        let _ = tcp.set_nodelay(true);
        (KillableStream { tcp, kill: KillSwitch::default() }, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// A TCP stream that fails once its [`KillSwitch`] is used.
#[derive(Debug)]
pub(crate) struct KillableStream {
    tcp: TcpStream,
    kill: KillSwitch,
}

impl KillableStream {
    fn check(&self) -> io::Result<()> {
        if self.kill.killed() {
            return Err(io::Error::new(io::ErrorKind::ConnectionAborted, "fake Hub: connection dropped"));
        }
        Ok(())
    }
}

impl AsyncRead for KillableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for KillableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.tcp).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check()?;
        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check()?;
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}
