using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Ori.Sockets.Connections;

namespace Ori.Sockets.Tests.Infrastructure;

/// <summary>A socket without a transport: it keeps what is queued on it and how it was closed.</summary>
internal sealed class RecordingSocket(string id) : IOutboundSocket
{
    private readonly List<SocketFrame> _frames = [];

    public string Id { get; } = id;

    public int? CloseCode { get; private set; }

    /// <summary>Refuses frames when set, as a closing socket does.</summary>
    public bool Refuse { get; set; }

    public IReadOnlyList<string> Texts
    {
        get
        {
            lock (_frames)
            {
                return [.. _frames.Select(f => Encoding.UTF8.GetString(f.Payload.Span))];
            }
        }
    }

    public bool TryEnqueue(SocketFrame frame)
    {
        if (Refuse || CloseCode is not null)
        {
            return false;
        }

        lock (_frames)
        {
            _frames.Add(frame);
        }

        return true;
    }

    public void Close(int code, string reason) => CloseCode ??= code;

    /// <summary>An invocation over this socket, in a connection scope of <paramref name="services"/>.</summary>
    public SocketInvocation NewInvocation(IServiceProvider services)
    {
        var provider = services.GetRequiredService<ISocketProvider>();
        var context = new SocketContext(Id, new DefaultHttpContext { RequestServices = services }, null, null, new Ori.Sockets.PubSub.DependencyBound(provider, TimeSpan.FromSeconds(10)), CancellationToken.None);
        return new SocketInvocation(context, this, 32, NullLogger.Instance);
    }
}
