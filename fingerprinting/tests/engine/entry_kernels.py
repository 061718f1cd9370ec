"""The kernels the engine's Python code calls (the others are called only by kernels, and
live inside their callers' machine code once those are loaded from the kernel cache)."""

ENTRY_KERNELS = (
    "probe_keys",
    "bucket_ranges",
    "gather_candidates",
    "coarse_best",
    "of_slots",
    "best_alignments",
    "align_best",
    "slots_of",
)


def unprepared(kernels) -> list[str]:
    """The entry kernels of the module ``kernels`` not yet compiled or loaded here."""
    return [name for name in ENTRY_KERNELS if not getattr(kernels, name).signatures]
