"""A test plugin whose import fails: the worker must exit with status 3."""

raise RuntimeError("this plugin is broken on purpose")
