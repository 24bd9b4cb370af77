namespace Ori.Sockets.Protocol;

/// <summary>Frames the server sends often enough to encode once for the process.</summary>
internal static class ServerFrames
{
    /// <summary>The heartbeat answer <c>3</c>.</summary>
    public static readonly SocketFrame Pong = SocketFrame.Create(Opcode.Text, [WireNames.Pong]);
}
