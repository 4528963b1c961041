"""RunnerSessions and the census: mirroring a session's backend resource, destroying it when the session
goes, the census of live resources, and destroy-and-reset requests from the admin API."""
