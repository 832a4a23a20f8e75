"""attribution88.leaderboard: result records and the rendered leaderboard page."""
