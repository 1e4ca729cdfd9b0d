import SoapCore
