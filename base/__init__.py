"""The shared base every stage reads: errors, files, the machine, and the tables that
define activations, losses and buffers once for the spec, the compiler and the runtime.

It imports no stage (spec, compiler, runtime) and nothing of the front door.
"""
