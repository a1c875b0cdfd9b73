"""Getting a trained model out: Hugging Face directories, ONNX files, a model card, uploads, and
loading such an exported directory back for prediction (``layout``)."""
