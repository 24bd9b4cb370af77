using System.Collections;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Http.Features;

namespace Ori.Sockets.Hosting;

/// <summary>
/// One connection of <see cref="SocketTransport"/>: the socket, a reader and a writer over it, and its features in a
/// short list (Kestrel sets four, the list's first size; TLS and metrics a few more) instead of a dictionary.
/// </summary>
internal sealed class SocketTransportConnection : ConnectionContext, IDuplexPipe, IFeatureCollection
{
    private static long s_lastId;

    private readonly Socket _socket;
    private readonly SocketReader _reader;
    private readonly SocketWriter _writer;
    private readonly long _id;
    private IDuplexPipe _transport;
    private string? _connectionId;
    private KeyValuePair<Type, object>[] _features = new KeyValuePair<Type, object>[4];
    private int _featureCount;
    private int _revision;
    private IDictionary<object, object?>? _items;
    private EndPoint? _localEndPoint;
    private EndPoint? _remoteEndPoint;
    private CancellationTokenSource? _closedSource;
    private int _closed;
    private int _socketClosed;

    public SocketTransportConnection(Socket socket)
    {
        _socket = socket;
        _id = Interlocked.Increment(ref s_lastId);
        _reader = new SocketReader(this, socket);
        _writer = new SocketWriter(this);
        _transport = this;
    }

    /// <summary>The previous connection in the list of a directly served listener (under its lock).</summary>
    public SocketTransportConnection? Previous { get; set; }

    /// <summary>The next connection in the list of a directly served listener (under its lock).</summary>
    public SocketTransportConnection? Next { get; set; }

    /// <summary>Whether the listener answered 101 (set before the connection's lifecycle starts).</summary>
    public bool Upgraded { get; set; }

    /// <summary>Whether the connection has ended (the peer left, or it was aborted or disposed).</summary>
    public bool IsClosed => Volatile.Read(ref _closed) != 0;

    public override IDuplexPipe Transport
    {
        get => _transport;
        set => _transport = value;
    }

    PipeReader IDuplexPipe.Input => _reader;

    PipeWriter IDuplexPipe.Output => _writer;

    public override string ConnectionId
    {
        get => _connectionId ??= "ori-" + _id.ToString("x", CultureInfo.InvariantCulture);
        set => _connectionId = value;
    }

    public override IFeatureCollection Features => this;

    public override IDictionary<object, object?> Items
    {
        get => _items ??= new ConnectionItems();
        set => _items = value;
    }

    public override EndPoint? LocalEndPoint
    {
        get => _localEndPoint ??= EndPointOf(static s => s.LocalEndPoint);
        set => _localEndPoint = value;
    }

    public override EndPoint? RemoteEndPoint
    {
        get => _remoteEndPoint ??= EndPointOf(static s => s.RemoteEndPoint);
        set => _remoteEndPoint = value;
    }

    /// <summary>Made when first asked for (most connections never are); cancelled when the connection ends.</summary>
    public override CancellationToken ConnectionClosed
    {
        get
        {
            if (_closedSource is null)
            {
                var source = new CancellationTokenSource();
                if (Interlocked.CompareExchange(ref _closedSource, source, null) is not null)
                {
                    source.Dispose();
                }
                else if (IsClosed)
                {
                    source.Cancel();
                }
            }

            return _closedSource.Token;
        }

        set => throw new NotSupportedException("The transport's connection-closed token cannot be replaced.");
    }

    public override void Abort(ConnectionAbortedException abortReason) => Close();

    public override ValueTask DisposeAsync()
    {
        Close();
        _reader.Dispose();
        _writer.Release();
        return base.DisposeAsync();
    }

    /// <summary>Ends the connection once: the socket is shut down and closed, pending operations end, the token is cancelled.</summary>
    public void Close()
    {
        if (Interlocked.Exchange(ref _socketClosed, 1) != 0)
        {
            return;
        }

        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (SocketException)
        {
            // Already reset by the peer.
        }
        catch (ObjectDisposedException)
        {
        }

        _socket.Dispose();
        Ended();
    }

    /// <summary>The reader saw the end (the peer's FIN or an error), or the connection was closed: the token is cancelled.</summary>
    public void Ended()
    {
        Interlocked.Exchange(ref _closed, 1);
        if (Volatile.Read(ref _closedSource) is { } source)
        {
            try
            {
                source.Cancel();
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    /// <summary>Sends the data from the caller's memory (nothing is copied) with a pooled operation; completed when the socket has it all.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<FlushResult> SendAsync(ReadOnlyMemory<byte> data)
    {
        var sender = SocketSender.Rent();
        try
        {
            while (!data.IsEmpty)
            {
                var sent = await sender.SendAsync(_socket, data).ConfigureAwait(false);
                if (sent <= 0)
                {
                    Ended();
                    return new FlushResult(isCanceled: false, isCompleted: true);
                }

                data = data[sent..];
            }

            return new FlushResult(isCanceled: false, isCompleted: false);
        }
        finally
        {
            SocketSender.Return(sender);
        }
    }

    private EndPoint? EndPointOf(Func<Socket, EndPoint?> get)
    {
        try
        {
            return get(_socket);
        }
        catch (ObjectDisposedException)
        {
            return null;
        }
        catch (SocketException)
        {
            return null;
        }
    }

    // The feature list: a linear search over a handful of entries.
    bool IFeatureCollection.IsReadOnly => false;

    int IFeatureCollection.Revision => _revision;

    object? IFeatureCollection.this[Type key]
    {
        get
        {
            ArgumentNullException.ThrowIfNull(key);
            for (var i = 0; i < _featureCount; i++)
            {
                if (_features[i].Key == key)
                {
                    return _features[i].Value;
                }
            }

            return null;
        }

        set
        {
            ArgumentNullException.ThrowIfNull(key);
            _revision++;
            for (var i = 0; i < _featureCount; i++)
            {
                if (_features[i].Key != key)
                {
                    continue;
                }

                if (value is null)
                {
                    _featureCount--;
                    _features[i] = _features[_featureCount];
                    _features[_featureCount] = default;
                }
                else
                {
                    _features[i] = new KeyValuePair<Type, object>(key, value);
                }

                return;
            }

            if (value is null)
            {
                return;
            }

            if (_featureCount == _features.Length)
            {
                Array.Resize(ref _features, _featureCount * 2);
            }

            _features[_featureCount++] = new KeyValuePair<Type, object>(key, value);
        }
    }

    TFeature? IFeatureCollection.Get<TFeature>() where TFeature : default => (TFeature?)((IFeatureCollection)this)[typeof(TFeature)];

    void IFeatureCollection.Set<TFeature>(TFeature? instance) where TFeature : default => ((IFeatureCollection)this)[typeof(TFeature)] = instance;

    IEnumerator<KeyValuePair<Type, object>> IEnumerable<KeyValuePair<Type, object>>.GetEnumerator()
    {
        for (var i = 0; i < _featureCount; i++)
        {
            yield return _features[i];
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => ((IEnumerable<KeyValuePair<Type, object>>)this).GetEnumerator();
}
