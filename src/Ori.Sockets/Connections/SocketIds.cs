using System.Security.Cryptography;

namespace Ori.Sockets.Connections;

/// <summary>Socket ids: random UUID v4 (RFC 9562 section 5.4) from the cryptographic generator.</summary>
internal static class SocketIds
{
    public static string NewId()
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x40);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true).ToString();
    }
}
