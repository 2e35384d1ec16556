"""Workload pipelines: files (:mod:`.spec`), the runner (:mod:`.runner`), the summary (:mod:`.metrics`)
and ``neuronsim run WORKLOAD`` (:mod:`.command`); docs/reference/workload.md."""
