"""One module per benchmark scenario; each has ``run(quick: bool) -> ScenarioResult``."""
