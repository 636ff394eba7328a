// Package vocab holds the words every signaling package shares: the protocol's error
// codes and Error, what the Room Service says about a room (RoomInfo, modes, the
// RoomDirectory), and chat messages with the ChatLog that stores them. It imports nothing
// of the project, so hub, rooms, chat and sfu use it without importing each other.
package vocab
