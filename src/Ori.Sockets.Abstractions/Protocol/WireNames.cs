#if ORI_SOCKETS_GENERATOR
using System;

#endif
namespace Ori.Sockets.Protocol;

/// <summary>
/// The literals of the wire protocol (docs/protocol.md), written once: the server, the .NET client and
/// (linked as source) the generator use these, never their own copies.
/// </summary>
internal static class WireNames
{
    /// <summary>The push that tells a client its guards passed: <c>{"name":"ori.ready","data":{"socketId":…}}</c>.</summary>
    public const string Ready = "ori.ready";

    /// <summary>
    /// The push that tells a client its server is shutting down and will close its socket with 1001 soon:
    /// <c>{"name":"ori.draining","data":{"reconnectAfterMs":…}}</c>; the client waits that long, plus jitter, to reconnect.
    /// </summary>
    public const string Draining = "ori.draining";

    /// <summary>Names beginning with this are the protocol's own.</summary>
    public const string ReservedPrefix = "ori.";

    /// <summary>The built-in request that joins a room.</summary>
    public const string RoomJoin = "room.join";

    /// <summary>The built-in request that leaves a room.</summary>
    public const string RoomLeave = "room.leave";

    /// <summary>The built-in request answered with the server's time.</summary>
    public const string Heartbeat = "heartbeat";

    /// <summary>The built-in request answered with the members of a room the socket has joined.</summary>
    public const string RoomPresence = "room.presence";

    /// <summary>The push that tells a room's members who joined and who left (when the application turns it on).</summary>
    public const string Presence = "ori.presence";

    /// <summary>Topics beginning with this are the server's: no client may join them.</summary>
    public const string ReservedTopicPrefix = "__";

    /// <summary>The client's heartbeat, a whole text message.</summary>
    public const byte Ping = (byte)'2';

    /// <summary>The server's answer to <see cref="Ping"/>, a whole text message.</summary>
    public const byte Pong = (byte)'3';

    /// <summary>The types a client may send without a route: <c>room.join</c>, <c>room.leave</c>, <c>heartbeat</c>, <c>room.presence</c>.</summary>
    public static readonly string[] BuiltInTypes = [RoomJoin, RoomLeave, Heartbeat, RoomPresence];

    /// <summary>The built-in types as UTF-8, made from the names above.</summary>
    public static class Utf8
    {
        /// <summary><see cref="RoomJoin"/> as UTF-8.</summary>
        public static readonly byte[] RoomJoin = System.Text.Encoding.UTF8.GetBytes(WireNames.RoomJoin);

        /// <summary><see cref="RoomLeave"/> as UTF-8.</summary>
        public static readonly byte[] RoomLeave = System.Text.Encoding.UTF8.GetBytes(WireNames.RoomLeave);

        /// <summary><see cref="Heartbeat"/> as UTF-8.</summary>
        public static readonly byte[] Heartbeat = System.Text.Encoding.UTF8.GetBytes(WireNames.Heartbeat);

        /// <summary><see cref="RoomPresence"/> as UTF-8.</summary>
        public static readonly byte[] RoomPresence = System.Text.Encoding.UTF8.GetBytes(WireNames.RoomPresence);
    }

    /// <summary>Envelope member names, as UTF-8.</summary>
    public static class Members
    {
        /// <summary>A client envelope's (and a reply's) message type.</summary>
        public static ReadOnlySpan<byte> Type => "type"u8;

        /// <summary>A push's message name.</summary>
        public static ReadOnlySpan<byte> Name => "name"u8;

        /// <summary>The message's payload.</summary>
        public static ReadOnlySpan<byte> Data => "data"u8;

        /// <summary><c>ori.draining</c>'s suggested reconnect delay, in milliseconds.</summary>
        public static ReadOnlySpan<byte> ReconnectAfterMs => "reconnectAfterMs"u8;

        /// <summary>Pairs a reply with its request.</summary>
        public static ReadOnlySpan<byte> CorrelationId => "correlationId"u8;

        /// <summary>A client envelope's optional W3C trace context: the parent of the message's span.</summary>
        public static ReadOnlySpan<byte> Traceparent => "traceparent"u8;

        /// <summary>An error reply's code.</summary>
        public static ReadOnlySpan<byte> Error => "error"u8;

        /// <summary>An error reply's text (and a detail's).</summary>
        public static ReadOnlySpan<byte> Message => "message"u8;

        /// <summary>An error reply's failures.</summary>
        public static ReadOnlySpan<byte> Details => "details"u8;

        /// <summary>A failure's JSON path.</summary>
        public static ReadOnlySpan<byte> Path => "path"u8;

        /// <summary>A push's server time, Unix milliseconds.</summary>
        public static ReadOnlySpan<byte> Timestamp => "timestamp"u8;

        /// <summary><c>ori.ready</c>'s socket id.</summary>
        public static ReadOnlySpan<byte> SocketId => "socketId"u8;

        /// <summary>The room of <c>room.join</c> and <c>room.leave</c>.</summary>
        public static ReadOnlySpan<byte> Room => "room"u8;

        /// <summary>The reply of <c>room.join</c> and <c>room.leave</c>.</summary>
        public static ReadOnlySpan<byte> Joined => "joined"u8;

        /// <summary>A presence push's members who left.</summary>
        public static ReadOnlySpan<byte> Left => "left"u8;

        /// <summary>A presence reply's members.</summary>
        public static ReadOnlySpan<byte> MemberList => "members"u8;

        /// <summary>A presence reply's number of members.</summary>
        public static ReadOnlySpan<byte> Count => "count"u8;

        /// <summary>A member's user id.</summary>
        public static ReadOnlySpan<byte> UserId => "userId"u8;

        /// <summary>A presence push's topic.</summary>
        public static ReadOnlySpan<byte> Topic => "topic"u8;
    }
}
