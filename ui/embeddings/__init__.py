"""The Embeddings dock: live embedding training (loss, validation mGE, PCA colours of the
preview model) and the embedding inspector (a point on one model -> similarity on others).

- :mod:`ui.embeddings.training_worker`: training off the GUI thread, Run/Pause/Step/Stop;
- :mod:`ui.embeddings.training_panel`, :mod:`ui.embeddings.training_plots`: the Training tab;
- :mod:`ui.embeddings.inspector_panel`: the Inspector tab;
- :mod:`ui.embeddings.embedding_dock`: the dock and :func:`install_embeddings`.
"""

from ui.embeddings.embedding_dock import EmbeddingDock, install_embeddings

__all__ = ["EmbeddingDock", "install_embeddings"]
