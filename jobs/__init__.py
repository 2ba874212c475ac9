"""Background jobs: the scheduler host and the job functions it runs."""
