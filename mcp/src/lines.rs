//! The stdio transport's framing: newline-delimited messages read with a size bound, and
//! messages written whole, one per line.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncWrite, AsyncWriteExt};

/// One frame read from the client.
#[derive(Debug, PartialEq)]
pub enum Frame {
    /// A line's bytes, without the newline (and without a trailing `\r`).
    Line(Vec<u8>),
    /// A line longer than the limit: its bytes were skipped up to its newline.
    TooLong,
}

/// Reads newline-delimited frames of at most `limit` bytes.
///
/// [`LineReader::next`] is cancel safe: a partly read line stays in the reader and the
/// next call continues it.
pub struct LineReader<R> {
    input: R,
    line: Vec<u8>,
    skipping: bool,
    limit: usize,
}

impl<R: AsyncBufRead + Unpin> LineReader<R> {
    pub fn new(input: R, limit: usize) -> Self {
        LineReader {
            input,
            line: Vec::new(),
            skipping: false,
            limit,
        }
    }

    /// The next frame, `None` at the end of the input (a last line without a newline
    /// counts as a line).
    pub async fn next(&mut self) -> std::io::Result<Option<Frame>> {
        loop {
            let available = self.input.fill_buf().await?;
            if available.is_empty() {
                return Ok(if self.skipping {
                    self.skipping = false;
                    Some(Frame::TooLong)
                } else if self.line.is_empty() {
                    None
                } else {
                    Some(self.take())
                });
            }
            let (chunk, end) = match available.iter().position(|&b| b == b'\n') {
                Some(at) => (&available[..at], Some(at + 1)),
                None => (available, None),
            };
            if !self.skipping {
                if self.line.len() + chunk.len() > self.limit {
                    self.skipping = true;
                    self.line = Vec::new();
                } else {
                    self.line.extend_from_slice(chunk);
                }
            }
            let used = end.unwrap_or(available.len());
            self.input.consume(used);
            if end.is_some() {
                if self.skipping {
                    self.skipping = false;
                    return Ok(Some(Frame::TooLong));
                }
                return Ok(Some(self.take()));
            }
        }
    }

    fn take(&mut self) -> Frame {
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Frame::Line(line)
    }
}

/// Writes `message` as one line and flushes it.
pub async fn write_message<W: AsyncWrite + Unpin>(
    output: &mut W,
    message: &serde_json::Value,
) -> std::io::Result<()> {
    // serde_json escapes control characters inside strings, so the text holds no newline.
    let mut bytes = serde_json::to_vec(message).expect("a JSON value always serializes");
    bytes.push(b'\n');
    output.write_all(&bytes).await?;
    output.flush().await
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::BufReader;

    async fn frames(input: &[u8], limit: usize, capacity: usize) -> Vec<Frame> {
        let mut reader = LineReader::new(BufReader::with_capacity(capacity, input), limit);
        let mut out = Vec::new();
        while let Some(frame) = reader.next().await.unwrap() {
            out.push(frame);
        }
        out
    }

    fn line(s: &str) -> Frame {
        Frame::Line(s.as_bytes().to_vec())
    }

    #[tokio::test]
    async fn splits_lines_across_small_buffers() {
        for capacity in [1, 3, 64] {
            assert_eq!(
                frames(b"ab\r\n\ncdef\nlast", 10, capacity).await,
                vec![line("ab"), line(""), line("cdef"), line("last")]
            );
        }
    }

    #[tokio::test]
    async fn skips_over_long_lines_and_carries_on() {
        for capacity in [1, 4, 64] {
            assert_eq!(
                frames(b"0123456789ABC\nok\n0123456789ABC", 10, capacity).await,
                vec![Frame::TooLong, line("ok"), Frame::TooLong]
            );
        }
    }
}
