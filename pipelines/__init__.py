"""Engines and jobs built on the ``scanner`` library (which never imports them).

- ``pipelines.ray_executor``: the ``ray`` executor of ``scanner scan --executor ray`` (Ray Data).
- ``pipelines.clean_job``: an example data-cleaning job: annotate, filter, keep the statistics.
- ``pipelines/slurm/``: a Slurm job-array recipe (``--shard-index``/``--num-shards``).
"""
