"""What a scan leaves behind: per-batch results and annotations, mergeable statistics, order-free samples, the output folder."""
