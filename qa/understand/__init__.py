"""Understanding a question: normalised, slips corrected, citizens' words bridged, follow-ups rewritten,
the kind of fact asked."""
