"""Training an embedder from a causal LM backbone (contrastive, optionally Text2Token); needs torch."""
