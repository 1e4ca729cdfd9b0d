print("soapd")
