"""Pull requests after a run: review feedback into review runs, merged and closed pull requests, what
people are told, and the check that each repository's synced workflow files are current."""
