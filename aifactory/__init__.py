"""The top of the factory: settings composed from every layer, the pipeline that
drives the stages, and the `aifactory` command line."""
