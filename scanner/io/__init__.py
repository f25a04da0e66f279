"""Reading inputs and writing outputs: shard discovery and streaming readers, storage (local paths and URIs), atomic files, the per-user cache."""
