"""asv benchmark suites for abrkit (configuration: ``asv.conf.json``; guide: ``docs/benchmarks.md``)."""
