"""Dense semantic point embeddings learned from correspondence sets (CorresPondenceNet):
backbones, the pull + geodesic-push loss, training, mGE evaluation and transfer."""
