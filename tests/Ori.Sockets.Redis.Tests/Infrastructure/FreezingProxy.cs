using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Ori.Sockets.Redis.Tests.Infrastructure;

/// <summary>
/// A TCP proxy in front of a redis-server that can make the subscription connections passing through it deaf: they
/// stay connected, their commands still reach Redis, but nothing Redis sends them arrives (a half-dead path, as a
/// broken middlebox leaves it). Connections made afterwards are not affected. When Redis closes a connection, the
/// proxy closes the client's side too. It can also refuse new connections for a while.
/// </summary>
internal sealed class FreezingProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _target;
    private readonly List<Link> _links = [];
    private readonly CancellationTokenSource _stop = new();
    private bool _refusing;

    public FreezingProxy(string target)
    {
        _target = target;
        _listener.Start();
        _ = AcceptAsync();
    }

    public string Endpoint => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>While set, connections made to the proxy are closed at once (a client that cannot get back to Redis yet).</summary>
    public bool Refusing
    {
        get => Volatile.Read(ref _refusing);
        set => Volatile.Write(ref _refusing, value);
    }

    /// <summary>Makes every subscription connection open now deaf.</summary>
    public int FreezeSubscribers()
    {
        lock (_links)
        {
            var frozen = 0;
            foreach (var link in _links.Where(l => l.Subscribes))
            {
                link.Frozen = true;
                frozen++;
            }

            return frozen;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        lock (_links)
        {
            foreach (var link in _links)
            {
                link.Close();
            }
        }

        _stop.Dispose();
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
            {
                return;
            }

            if (Refusing)
            {
                client.Dispose();
                continue;
            }

            var server = new TcpClient();
            var parts = _target.Split(':');
            try
            {
                await server.ConnectAsync(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
            }
            catch (SocketException)
            {
                client.Dispose();
                server.Dispose();
                continue;
            }

            var link = new Link(client, server);
            lock (_links)
            {
                _links.Add(link);
            }

            _ = link.PumpAsync(toServer: true);
            _ = link.PumpAsync(toServer: false);
        }
    }

    private sealed class Link(TcpClient client, TcpClient server)
    {
        public volatile bool Subscribes;
        public volatile bool Frozen;

        public async Task PumpAsync(bool toServer)
        {
            var from = (toServer ? client : server).GetStream();
            var to = (toServer ? server : client).GetStream();
            var buffer = new byte[16 * 1024];
            try
            {
                while (true)
                {
                    var read = await from.ReadAsync(buffer);
                    if (read == 0)
                    {
                        break;
                    }

                    if (toServer && !Subscribes && Encoding.ASCII.GetString(buffer, 0, read).Contains("SUBSCRIBE", StringComparison.OrdinalIgnoreCase))
                    {
                        Subscribes = true;
                    }

                    if (!toServer && Frozen)
                    {
                        continue;
                    }

                    await to.WriteAsync(buffer.AsMemory(0, read));
                }
            }
            catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException)
            {
            }

            Close();
        }

        public void Close()
        {
            client.Dispose();
            server.Dispose();
        }
    }
}
