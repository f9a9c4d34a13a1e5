"""Built-in plugins: the project's own presets, schedules, models and datasets, registered through the same hooks
a third-party plugin uses (listed in :data:`aihwkit_sc.plugins.DEFAULT_PLUGINS`). Their modules import nothing heavy
at import time, so loading them costs nothing until a registry is used."""
