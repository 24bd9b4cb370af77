using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Http;

namespace Ori.Sockets.Protocol;

/// <summary>The server side of the RFC 6455 opening handshake (section 4.2).</summary>
internal static class WebSocketHandshake
{
    private static ReadOnlySpan<byte> AcceptGuid => "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"u8;

    public static bool IsWebSocketRequest(HttpRequest request)
    {
        if (!HttpMethods.IsGet(request.Method))
        {
            return false;
        }

        var upgrade = request.Headers.Upgrade.ToString();
        return upgrade.Contains("websocket", StringComparison.OrdinalIgnoreCase)
            && request.Headers.Connection.ToString().Contains("upgrade", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Checks the version and key; returns the <c>Sec-WebSocket-Accept</c> value, or null.</summary>
    public static string? ComputeAccept(HttpRequest request)
    {
        if (request.Headers.SecWebSocketVersion.ToString() != "13")
        {
            return null;
        }

        var key = request.Headers.SecWebSocketKey.ToString().Trim();
        Span<byte> decoded = stackalloc byte[24];
        if (key.Length != 24 || !Convert.TryFromBase64String(key, decoded, out var decodedLength) || decodedLength != 16)
        {
            return null;
        }

        Span<byte> input = stackalloc byte[24 + 36];
        Encoding.ASCII.GetBytes(key, input);
        AcceptGuid.CopyTo(input[24..]);
        Span<byte> hash = stackalloc byte[20];
#pragma warning disable CA5350 // RFC 6455 4.2.2 prescribes SHA-1 for Sec-WebSocket-Accept; it is not used for security.
        SHA1.HashData(input, hash);
#pragma warning restore CA5350
        return Convert.ToBase64String(hash);
    }
}
