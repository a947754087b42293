// A plugin that fails at import (the worker must exit with status 3 and the stack).
import "features_capnp.mjs";

throw new Error("this plugin is broken on purpose");
