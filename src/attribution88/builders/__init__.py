"""attribution88.builders: turning generators and real images into the benchmark — the
generator zoo, sampling, cleaning (LPIPS + k-means), and the build pipeline."""
