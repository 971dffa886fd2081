from chat.client.app import console

console()
