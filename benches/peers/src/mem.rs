//! An in-memory stream: reads come from a byte slice, writes are counted
//! and dropped. Sync (`Read + Write`, sansws's `Transport`) and async
//! (tokio's `AsyncRead + AsyncWrite`). A read fills what the reader asks
//! for, or at most `chunk` bytes (a socket hands out what it has, not the
//! whole stream).

use std::io::{self, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

pub struct Mem<'a> {
    input: &'a [u8],
    pos: usize,
    written: usize,
    chunk: usize,
}

impl<'a> Mem<'a> {
    pub fn new(input: &'a [u8]) -> Self {
        Self::chunked(input, usize::MAX)
    }

    /// Reads of at most `chunk` bytes.
    pub fn chunked(input: &'a [u8], chunk: usize) -> Self {
        Self {
            input,
            pos: 0,
            written: 0,
            chunk,
        }
    }

    pub fn written(&self) -> usize {
        self.written
    }

    /// The next bytes a read of at most `room` hands out.
    fn next(&mut self, room: usize) -> &'a [u8] {
        let n = (self.input.len() - self.pos).min(room).min(self.chunk);
        let out = &self.input[self.pos..self.pos + n];
        self.pos += n;
        out
    }
}

impl Read for Mem<'_> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let src = self.next(out.len());
        out[..src.len()].copy_from_slice(src);
        Ok(src.len())
    }
}

impl Write for Mem<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.written += buf.len();
        Ok(buf.len())
    }
    fn write_vectored(&mut self, bufs: &[io::IoSlice<'_>]) -> io::Result<usize> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl sansws::adapter::std_net::Transport for Mem<'_> {}

impl tokio::io::AsyncRead for Mem<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        // Straight into the (maybe uninitialised) space, as a socket read
        // does: no zeroing of the reader's whole spare capacity first.
        let src = self.next(buf.remaining());
        buf.put_slice(src);
        Poll::Ready(Ok(()))
    }
}

impl tokio::io::AsyncWrite for Mem<'_> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.written += buf.len();
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let n = bufs.iter().map(|b| b.len()).sum();
        self.written += n;
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
