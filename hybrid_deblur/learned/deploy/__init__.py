"""Deployment of the learned models: ONNX export, int8, grouped variants, distillation.

Modules: :mod:`.export` (ONNX + onnxruntime check), :mod:`.quantize` (int8 PT2E / dynamic),
:mod:`.grouped` (grouped / depthwise-separable variants), :mod:`.distill` (teacher → student).
The optional packages (``onnx``, ``onnxscript``, ``onnxruntime``, ``torchao``) are imported
only when a function needs them.
"""
