"""Developer tools of the pack (example workflow generator and runner). ComfyUI never imports
them; a regular package so that `tools.*` cannot resolve to another distribution's `tools`."""
