//! Round trips on one connection, from the direction of its traffic alone: a round trip starts
//! each time the client speaks after the server did (or first), so an HTTP request and its
//! response is one, and a hijacked exec stream counts one per request the caller writes after a
//! reply. Pure logic: the relay feeds it what it reads.

/// Which way a chunk of bytes went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    /// Client → server.
    Up,
    /// Server → client.
    Down,
}

/// One connection's last direction.
#[derive(Debug, Default)]
pub struct Turns {
    last: Option<Direction>,
}

impl Turns {
    /// Records a chunk; true when it starts a round trip (the client's first bytes, or its
    /// first after the server spoke).
    pub fn saw(&mut self, direction: Direction) -> bool {
        let starts = direction == Direction::Up && self.last != Some(Direction::Up);
        self.last = Some(direction);
        starts
    }
}

#[cfg(test)]
mod tests {
    use super::Direction::{Down, Up};
    use super::*;

    fn count(chunks: &[Direction]) -> usize {
        let mut turns = Turns::default();
        chunks.iter().filter(|d| turns.saw(**d)).count()
    }

    #[test]
    fn a_request_and_its_response_is_one_round_trip_however_cut() {
        assert_eq!(count(&[Up]), 1);
        assert_eq!(count(&[Up, Up, Down]), 1);
        assert_eq!(count(&[Up, Down, Down, Down]), 1);
    }

    #[test]
    fn keep_alive_requests_count_one_each() {
        assert_eq!(count(&[Up, Down, Up, Down, Up, Up, Down]), 3);
    }

    #[test]
    fn a_server_that_speaks_first_costs_nothing_until_the_client_answers() {
        // An agent's ready line, then a request and its reply, then the next: two.
        assert_eq!(count(&[Down]), 0);
        assert_eq!(count(&[Down, Up, Down, Up, Down]), 2);
    }

    #[test]
    fn nothing_seen_is_no_round_trip() {
        assert_eq!(count(&[]), 0);
    }
}
