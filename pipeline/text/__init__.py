"""Analysis-ready text: normalization, sentences, word segmentation, keywords, search."""
