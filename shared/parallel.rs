//! Work split over every core: contiguous shares of a slice, one scoped thread each, results
//! back in order. What the fold uses to read and decode chunks and to verify signatures.

/// How many threads a CPU-bound split uses.
pub fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()).clamp(1, 8)
}

/// `items.iter().map(f)` on every core; the results are in the order of `items`.
pub fn map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    map_with(items, || (), |_, item| f(item))
}

/// `map` where each thread makes its own state with `init` (made on that thread, so it need
/// not be `Send`: a repository handle, say) and lends it to `f` for every item of its share.
pub fn map_with<T: Sync, S, R: Send>(
    items: &[T],
    init: impl Fn() -> S + Sync,
    f: impl Fn(&mut S, &T) -> R + Sync,
) -> Vec<R> {
    let per = items.len().div_ceil(threads()).max(1);
    let share = |part: &[T]| {
        let mut state = init();
        part.iter().map(|item| f(&mut state, item)).collect::<Vec<R>>()
    };
    if items.len() <= per {
        return share(items);
    }
    std::thread::scope(|scope| {
        let workers: Vec<_> = items.chunks(per).map(|part| scope.spawn(move || share(part))).collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().expect("worker threads do not panic"))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn results_come_back_in_order() {
        let items: Vec<u32> = (0..1000).collect();
        assert_eq!(
            super::map(&items, |x| x * 2),
            items.iter().map(|x| x * 2).collect::<Vec<_>>()
        );
        assert!(super::map(&[] as &[u32], |x| *x).is_empty());
    }
}
