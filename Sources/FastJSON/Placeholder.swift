// placeholder until the JSON module lands
