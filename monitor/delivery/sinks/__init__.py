"""Event sinks: each takes one event at a time; a failing sink never stops the others."""
