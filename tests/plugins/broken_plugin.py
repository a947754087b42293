"""A plugin whose import fails, for the start-failure test."""

raise RuntimeError("this plugin is broken on purpose")
