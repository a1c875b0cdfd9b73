"""receipt-lightning: LayoutLM receipt field extraction, trained as fault-tolerant Spot jobs."""

__version__ = "0.1.0"
