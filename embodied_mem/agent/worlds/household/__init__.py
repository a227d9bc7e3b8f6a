"""Living in a changing household (``envs/indoor3d/household``) on the shared ``AgentLoop``: fetch
objects that residents move on routines, do chores, answer questions from memory.

The env declares (``env.metadata["embodied_mem"]``): ``world: "household"``, ``labels`` (object
names, ``obs["object"]`` order), ``actions`` (``pick`` then ``goto:<place>`` per place),
``places`` (the home map: ``name``, ``room``, stand point ``x``, ``y`` in metres), ``rooms``
(name -> [xmin, ymin, xmax, ymax]), ``doors`` and ``day_length`` (seconds). No module here
imports ``embodied_mem.envs``. ``kit.KIT`` is the ``WorldKit``.

Which memory module decides what (``world.HouseholdWorld.rank``):

- spatial: where the object is believed now (``spatial.locate``), the places of the home map;
- temporal: how much that belief is worth, from ``temporal.last_seen`` (seen in this time-of-day
  slot: trust it; seen before the last routine change: "it has been gone for hours, look
  elsewhere first"); the questions "was the door open this morning?" and "what changed in the
  living room since yesterday?" are answered from its record alone (``answers``: the nearest look
  at the door; the as-of beliefs at both times), the usual guess without it;
- semantic: routines consolidated from temporal memory's timeline of sightings (the last place
  each object was seen in each past slot; without temporal memory there is nothing to consolidate)
  into facts ``(mug, morning_at, kitchen:table)`` with confidence and support, ADD/UPDATE/DELETE
  through ``semantic.assert_fact`` / ``retract``; ``(keys, afternoon_at, away)`` for a slot in
  which the robot looked at most of the home and saw them nowhere (the answer "away" to "where are
  my keys?"; the search itself ranks places only);
- episodic: recall of past searches for this object in this slot (``"found mug at ... in the
  morning"`` events) weighted by the utility ``reinforce`` learned from whether the recalled
  place held the object.
"""
