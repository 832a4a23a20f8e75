"""The PyTorch implementations of the generator architectures: one module per network
(``stylegan3``, ``stylegan2``, ``stylegan``, ``progan``, ``sngan``; ``resnet5``: the g-resnet5
generator MMDGAN and CramerGAN share), each with its ``Generator`` built from the ``Config`` of
its architecture's file (`attribution88.builders.generators.architectures` says what they
provide), and ``layers``: what they share. Importing one of them imports torch; this package's
own import does not."""
