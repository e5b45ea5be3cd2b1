//! The output queues of the sans-IO machines (`poll_output` and its kin): a queue that
//! gives its memory back once drained. A call spends nearly all of its life with
//! nothing queued, between bursts of a few outputs (an answer, a prompt, a digit); a
//! `VecDeque` would keep the capacity of its busiest moment for the whole call, in
//! each of a call's queues (the core's, the leg's, its transactions', the
//! application's), on every one of thousands of calls.

use std::collections::VecDeque;

/// The next output, or `None` with the queue's memory released.
pub fn pop_or_release<T>(queue: &mut VecDeque<T>) -> Option<T> {
    let next = queue.pop_front();
    if next.is_none() && queue.capacity() > 0 {
        *queue = VecDeque::new();
    }
    next
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_drained_queue_holds_no_memory_and_keeps_its_order() {
        let mut q = VecDeque::new();
        q.extend([1, 2, 3]);
        assert_eq!(pop_or_release(&mut q), Some(1));
        assert!(q.capacity() > 0, "not drained yet");
        assert_eq!((pop_or_release(&mut q), pop_or_release(&mut q)), (Some(2), Some(3)));
        assert_eq!(pop_or_release(&mut q), None);
        assert_eq!(q.capacity(), 0);
        q.push_back(4);
        assert_eq!(pop_or_release(&mut q), Some(4));
    }
}
