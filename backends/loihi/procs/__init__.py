"""Lava Processes of the Loihi backend with their ProcessModels (one Process per module).

Every run config names these models explicitly (`exception_proc_model_map`), so Lava never scans
this folder to look them up."""
