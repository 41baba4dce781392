"""Training, evaluation and prediction for ST-GCN on skeleton datasets (plain torch, no ROS)."""
